// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface TicketEvent {
  /**
   * The ticket: send it as metadata "kvmclone-ticket" on peer-socket calls.
   */
  'ticket'?: (string);
  /**
   * Path of the peer socket on the source host (what the controller forwards).
   */
  'peerSocket'?: (string);
}

export interface TicketEvent__Output {
  /**
   * The ticket: send it as metadata "kvmclone-ticket" on peer-socket calls.
   */
  'ticket': (string);
  /**
   * Path of the peer socket on the source host (what the controller forwards).
   */
  'peerSocket': (string);
}
