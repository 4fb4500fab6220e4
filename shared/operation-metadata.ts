/**
 * The operation a call belongs to, carried as gRPC metadata on every call
 * kvmctl makes for an operation (and on the peer reads a destination agent
 * makes for a pull). Many requests have no operation_id field (WriteRanges,
 * CommitStaging, RemoveImage, ...); with this, every audit record of an
 * operation names it, so `kvmctl ops show ID` finds them on both hosts.
 * A request's own operation_id field, where it has one, wins.
 */
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';

/** Metadata key of the operation id. */
export const OPERATION_ID_METADATA = 'kvmclone-operation-id';

/** Whether `id` can travel as a metadata value (printable ASCII, bounded). */
export function isSendableOperationId(id: string): boolean {
  return /^[\x21-\x7e]{1,128}$/.test(id);
}

/** A client interceptor that sends `operationId` with every call on the channel. */
export function operationIdInterceptor(operationId: string): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(OPERATION_ID_METADATA, operationId);
        next(metadata, listener);
      },
    });
}
