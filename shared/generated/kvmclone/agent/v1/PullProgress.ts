// Original file: proto/kvmclone/agent/v1/transfer.proto

import type { Long } from '@grpc/proto-loader';

export interface PullProgress {
  /**
   * Set on the first message (sent as soon as the staging file exists) and
   * on the last; absent in between.
   */
  'stagingId'?: (string);
  'stagingPath'?: (string);
  /**
   * Bytes of the source file covered so far (data sent plus zero ranges).
   */
  'bytesDone'?: (number | string | Long);
  'bytesTotal'?: (number | string | Long);
  /**
   * Data bytes received from the source (what crossed the wire).
   */
  'bytesTransferred'?: (number | string | Long);
  /**
   * Set on the last message: digest of the staging file (DigestImage form).
   */
  'digest'?: (string);
  'done'?: (boolean);
  /**
   * "transfer" while bytes arrive, "apply" once an in-place pull writes its
   * complete journal into the image.
   */
  'phase'?: (string);
  /**
   * Set on the last message of an in-place pull with keep_points: the id of
   * the restore point kept of the image as it was before this pull.
   */
  'pointId'?: (string);
  /**
   * Data bytes received from the source as plain bytes (after decompression):
   * bytes_transferred unless chunks came compressed (--compress).
   */
  'bytesData'?: (number | string | Long);
}

export interface PullProgress__Output {
  /**
   * Set on the first message (sent as soon as the staging file exists) and
   * on the last; absent in between.
   */
  'stagingId': (string);
  'stagingPath': (string);
  /**
   * Bytes of the source file covered so far (data sent plus zero ranges).
   */
  'bytesDone': (number);
  'bytesTotal': (number);
  /**
   * Data bytes received from the source (what crossed the wire).
   */
  'bytesTransferred': (number);
  /**
   * Set on the last message: digest of the staging file (DigestImage form).
   */
  'digest': (string);
  'done': (boolean);
  /**
   * "transfer" while bytes arrive, "apply" once an in-place pull writes its
   * complete journal into the image.
   */
  'phase': (string);
  /**
   * Set on the last message of an in-place pull with keep_points: the id of
   * the restore point kept of the image as it was before this pull.
   */
  'pointId': (string);
  /**
   * Data bytes received from the source as plain bytes (after decompression):
   * bytes_transferred unless chunks came compressed (--compress).
   */
  'bytesData': (number);
}
