// Original file: proto/kvmclone/agent/v1/transfer.proto

import type { Long } from '@grpc/proto-loader';

export interface RestorePointInfo {
  /**
   * Stable id of the point (digits; newer points have larger ids).
   */
  'id'?: (string);
  /**
   * Unix time (seconds) the point was made: when its pull committed.
   */
  'createdUnix'?: (number | string);
  /**
   * Digest (DigestImage form) of the image as it was before that pull, i.e.
   * what restoring to this point gives; checked after a restore.
   */
  'digest'?: (string);
  /**
   * Bytes the point takes on disk (allocated): roughly the bytes its pull
   * overwrote.
   */
  'sizeBytes'?: (number | string | Long);
  /**
   * Size of the image at this point.
   */
  'imageSize'?: (number | string | Long);
  /**
   * The point_label of its pull.
   */
  'label'?: (string);
  /**
   * The operation of its pull.
   */
  'operationId'?: (string);
}

export interface RestorePointInfo__Output {
  /**
   * Stable id of the point (digits; newer points have larger ids).
   */
  'id': (string);
  /**
   * Unix time (seconds) the point was made: when its pull committed.
   */
  'createdUnix': (number);
  /**
   * Digest (DigestImage form) of the image as it was before that pull, i.e.
   * what restoring to this point gives; checked after a restore.
   */
  'digest': (string);
  /**
   * Bytes the point takes on disk (allocated): roughly the bytes its pull
   * overwrote.
   */
  'sizeBytes': (number);
  /**
   * Size of the image at this point.
   */
  'imageSize': (number);
  /**
   * The point_label of its pull.
   */
  'label': (string);
  /**
   * The operation of its pull.
   */
  'operationId': (string);
}
