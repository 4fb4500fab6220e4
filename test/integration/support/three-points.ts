/**
 * The check both restore-point suites (restore-points-chain.test.ts between
 * agent processes, live-restore-points-syncs.test.ts at the GUEST layer) make
 * of the points three syncs with keep 3 leave: one point a sync, each undoing
 * its own sync.
 */
import assert from 'node:assert/strict';

/**
 * Asserts `kept` (as ListRestorePoints lists them, newest first) holds three points whose digests are the
 * source's `states` (oldest first) before each sync, and whose virtual sizes are `imageSizes` (newest first);
 * `view` names what the digests were taken of, for the failure message.
 */
export function assertThreePointsUndoTheSyncs(
  kept: readonly { digest: string; imageSize: number }[],
  states: readonly { digest: string }[],
  imageSizes: readonly number[],
  view: string,
): void {
  assert.equal(kept.length, 3);
  // Newest first: point k restores the state before sync k.
  assert.deepEqual(
    kept.map((p) => p.digest),
    [states[2]?.digest, states[1]?.digest, states[0]?.digest],
    `each point's digest is ${view} before its sync`,
  );
  assert.deepEqual(
    kept.map((p) => p.imageSize),
    imageSizes,
    'each point restores the virtual size before its sync',
  );
}
