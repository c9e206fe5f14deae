/**
 * Constructors: the only place events are made, so every record has every field.
 */
import { randomUUID } from 'node:crypto';
import {
  EVENT_SOURCES,
  type ActionTrailEvent,
  type EventRW,
  type EventType,
  type Outcome,
  type ReferencedResources,
  type UserIdentity,
} from './types.js';

export interface NewEventInit {
  eventName: string;
  eventRW: EventRW;
  eventType: EventType;
  eventSource: string;
  serviceName: string;
  acsRegion: string;
  isGlobal?: boolean;
  /** The account the event belongs to; default: the caller's (`userIdentity.accountId`). */
  recipientAccountId?: string;
  sourceIpAddress: string;
  userAgent: string;
  userIdentity: UserIdentity;
  requestId: string;
  time?: Date;
  eventId?: string;
  requestParameters?: Record<string, unknown>;
  referencedResources?: ReferencedResources;
  additionalEventData: { sensitive: boolean; outcome?: Outcome; [key: string]: unknown };
}

/** A new event; `outcome` defaults to `pending` until `finishEvent` sets it. */
export function newEvent(init: NewEventInit): ActionTrailEvent {
  return {
    eventId: init.eventId ?? randomUUID(),
    eventVersion: 1,
    eventName: init.eventName,
    eventRW: init.eventRW,
    eventType: init.eventType,
    eventCategory: 'Management',
    eventSource: init.eventSource,
    serviceName: init.serviceName,
    eventTime: (init.time ?? new Date()).toISOString(),
    acsRegion: init.acsRegion,
    isGlobal: init.isGlobal ?? false,
    recipientAccountId: init.recipientAccountId ?? init.userIdentity.accountId,
    sourceIpAddress: init.sourceIpAddress,
    userAgent: init.userAgent,
    userIdentity: init.userIdentity,
    requestId: init.requestId,
    requestParameters: init.requestParameters ?? {},
    responseElements: {},
    referencedResources: init.referencedResources ?? {},
    additionalEventData: { ...init.additionalEventData, outcome: init.additionalEventData.outcome ?? 'pending' },
  };
}

export interface FinishInit {
  outcome: Exclude<Outcome, 'pending'>;
  httpStatus?: number;
  latencyMs?: number;
  responseElements?: Record<string, unknown>;
  errorCode?: string;
  errorMessage?: string;
  referencedResources?: ReferencedResources;
  additionalEventData?: Record<string, unknown>;
}

/** The final form of an event: a copy with its outcome. */
export function finishEvent(event: ActionTrailEvent, init: FinishInit): ActionTrailEvent {
  const out: ActionTrailEvent = {
    ...event,
    responseElements: init.responseElements ?? event.responseElements,
    referencedResources: init.referencedResources ?? event.referencedResources,
    additionalEventData: {
      ...event.additionalEventData,
      ...init.additionalEventData,
      outcome: init.outcome,
      ...(init.httpStatus !== undefined ? { httpStatus: init.httpStatus } : {}),
      ...(init.latencyMs !== undefined ? { latencyMs: init.latencyMs } : {}),
    },
  };
  delete out.errorCode;
  delete out.errorMessage;
  if (init.errorCode) {
    out.errorCode = init.errorCode;
    out.errorMessage = init.errorMessage ?? '';
  }
  return out;
}

/** Adds `name` to `resources[type]` once. */
export function addResource(resources: ReferencedResources, type: string, ...names: string[]): void {
  const list = (resources[type] ??= []);
  for (const n of names) if (n && !list.includes(n)) list.push(n);
}

export type ServiceEventInit = Omit<NewEventInit, 'eventRW' | 'eventType' | 'eventSource' | 'serviceName' | 'isGlobal' | 'requestId'> & {
  requestId?: string;
  responseElements?: Record<string, unknown>;
};

/**
 * FlinkTrail's own service event, already finished: an `AliyunServiceEvent` from flinktrail
 * (`serviceName` Actiontrail), global, a Write that took effect — a sign-in throttle, an audit
 * policy change, dead letters set aside.
 */
export function serviceEvent(init: ServiceEventInit): ActionTrailEvent {
  const { requestId, responseElements, ...rest } = init;
  const e = newEvent({
    ...rest,
    eventRW: 'Write',
    eventType: 'AliyunServiceEvent',
    eventSource: EVENT_SOURCES.flinkTrail,
    serviceName: 'Actiontrail',
    isGlobal: true,
    requestId: requestId ?? randomUUID(),
  });
  return finishEvent(e, { outcome: 'success', ...(responseElements ? { responseElements } : {}) });
}
