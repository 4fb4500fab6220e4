// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface RestorePointProgress {
  /**
   * "check" (the image and the points are checked, nothing changed yet),
   * "apply" (point_id is being applied), "verify" (digesting the result).
   */
  'phase'?: (string);
  'pointId'?: (string);
  /**
   * Points applied so far, and how many the restore applies.
   */
  'pointsDone'?: (number);
  'pointsTotal'?: (number);
  /**
   * Set on the last message: the image's digest, equal to the point's.
   */
  'digest'?: (string);
  'done'?: (boolean);
}

export interface RestorePointProgress__Output {
  /**
   * "check" (the image and the points are checked, nothing changed yet),
   * "apply" (point_id is being applied), "verify" (digesting the result).
   */
  'phase': (string);
  'pointId': (string);
  /**
   * Points applied so far, and how many the restore applies.
   */
  'pointsDone': (number);
  'pointsTotal': (number);
  /**
   * Set on the last message: the image's digest, equal to the point's.
   */
  'digest': (string);
  'done': (boolean);
}
