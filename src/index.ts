/**
 * `wsim`: the protocol itself — wire frames and their codec, the machines,
 * the payload hash, the access policy and the publish checks — for anyone
 * writing a client, a server or a test of their own.
 */
export * from '../machines/protocol.ts';
export { payloadHash, PAYLOAD_HASH_LENGTH } from '../machines/hash.ts';
export { appAnswer, backoffDelay, clientConnectionMachine, DEFAULT_CLIENT_CONFIG, frameEvent, savedCursors } from '../machines/client-connection.ts';
export type { AppAnswer, AppSink, ClientConfig, ClientConnectionMachine, ClientEvent, ClientInput, SavedCursor } from '../machines/client-connection.ts';
export type { ClientPort } from '../transport/client-endpoint.ts';
export { serverSessionMachine, DEFAULT_SESSION_CONFIG } from '../machines/server-session.ts';
export type { SessionConfig, SessionServices } from '../machines/server-session.ts';
export { hubMachine } from '../machines/hub.ts';
export type { HubEvent, HubInput, HubRef, SessionRef } from '../machines/hub.ts';
export { agentRunMachine } from '../machines/agent-run.ts';
export type { AgentRunInput, AgentRunRequest } from '../machines/agent-run.ts';
export { Directory } from '../machines/identity.ts';
export type { AuthResult, Identity } from '../machines/identity.ts';
export { HookedDirectory } from '../machines/hooked-directory.ts';
export { DEFAULT_POLICY, applyPolicy } from '../machines/policy.ts';
export type { Access, AccessPolicy } from '../machines/policy.ts';
export { checkPublishRequest, DEFAULT_PUBLISH_LIMITS } from '../machines/publish-request.ts';
export type { PublishError, PublishLimits, PublishRequest } from '../machines/publish-request.ts';
export { PublishLedger } from '../machines/publish-ledger.ts';
