// Original file: proto/kvmclone/agent/v1/transfer.proto

export const PullMode = {
  /**
   * Same as PULL_MODE_STAGING.
   */
  PULL_MODE_UNSPECIFIED: 'PULL_MODE_UNSPECIFIED',
  /**
   * Into a staging file beside the target (new, or resumed with staging_id);
   * the target itself is not touched until CommitStaging.
   */
  PULL_MODE_STAGING: 'PULL_MODE_STAGING',
  /**
   * Into the existing target image, crash-safely: the ranges go first into a
   * journal beside the image (fsynced, then marked complete), then into the
   * image in place; the image is resized to the source's size. A journal
   * left by a crash is rolled forward if complete and discarded if not, at
   * the agent's start and before the next pull into that image, so the image
   * is never a mix of old and new.
   */
  PULL_MODE_IN_PLACE: 'PULL_MODE_IN_PLACE',
} as const;

export type PullMode =
  /**
   * Same as PULL_MODE_STAGING.
   */
  | 'PULL_MODE_UNSPECIFIED'
  | 0
  /**
   * Into a staging file beside the target (new, or resumed with staging_id);
   * the target itself is not touched until CommitStaging.
   */
  | 'PULL_MODE_STAGING'
  | 1
  /**
   * Into the existing target image, crash-safely: the ranges go first into a
   * journal beside the image (fsynced, then marked complete), then into the
   * image in place; the image is resized to the source's size. A journal
   * left by a crash is rolled forward if complete and discarded if not, at
   * the agent's start and before the next pull into that image, so the image
   * is never a mix of old and new.
   */
  | 'PULL_MODE_IN_PLACE'
  | 2

export type PullMode__Output = typeof PullMode[keyof typeof PullMode]
