// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface OpenTicketRequest {
  /**
   * Resolved image paths the ticket may read (each under the image roots).
   */
  'paths'?: (string)[];
  /**
   * Operation this ticket belongs to (for logs and audit).
   */
  'operationId'?: (string);
}

export interface OpenTicketRequest__Output {
  /**
   * Resolved image paths the ticket may read (each under the image roots).
   */
  'paths': (string)[];
  /**
   * Operation this ticket belongs to (for logs and audit).
   */
  'operationId': (string);
}
