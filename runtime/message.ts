/** Every actor message is a member of a discriminated union on `type`. */
export interface Message {
  readonly type: string;
}

/** W3C trace context as carried in envelopes (`traceparent`, optional `tracestate`). */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}
