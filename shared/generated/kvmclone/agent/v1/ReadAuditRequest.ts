// Original file: proto/kvmclone/agent/v1/info.proto


export interface ReadAuditRequest {
  /**
   * Only calls that ended at or after this time (ISO 8601 with a zone,
   * e.g. "2026-12-02T09:00:00Z"); "" = no bound.
   */
  'since'?: (string);
  /**
   * Only calls about this VM; "" = any.
   */
  'vm'?: (string);
  /**
   * Only calls of this operation; "" = any.
   */
  'operationId'?: (string);
  /**
   * The newest this many matching records; 0 means 1000; at most 100000.
   */
  'limit'?: (number);
}

export interface ReadAuditRequest__Output {
  /**
   * Only calls that ended at or after this time (ISO 8601 with a zone,
   * e.g. "2026-12-02T09:00:00Z"); "" = no bound.
   */
  'since': (string);
  /**
   * Only calls about this VM; "" = any.
   */
  'vm': (string);
  /**
   * Only calls of this operation; "" = any.
   */
  'operationId': (string);
  /**
   * The newest this many matching records; 0 means 1000; at most 100000.
   */
  'limit': (number);
}
