export {
  type AuthClient,
  type Availability,
  type Booking,
  type BookingPage,
  type BoxofficeClient,
  type BoxofficeClientOptions,
  type BoxofficeEvent,
  type CallOptions,
  type CheckinCounts,
  type CheckinExport,
  createBoxofficeClient,
  type EventPage,
  type RouterInputs,
  type RouterOutputs,
  type ScanResult,
  type Session,
  type SyncResult,
  type Ticket,
  type TicketList,
  type User,
} from './client.ts';
export {
  BoxofficeError,
  type BoxofficeErrorInit,
  BoxofficeNetworkError,
  type ErrorCode,
  type FieldIssue,
  isBoxofficeError,
} from './errors.ts';
export {
  type QueueStatus,
  type QueueStreamOptions,
  streamQueueStatus,
  type WaitlistEntry,
} from './queue-stream.ts';
export type { AppRouter } from './router.ts';
export {
  type KeyValueStorage,
  memoryTokenStore,
  type StoredTokens,
  type TokenStore,
  webStorageTokenStore,
} from './token-store.ts';
