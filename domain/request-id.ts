/** What the API accepts as a caller's X-Request-Id, and what a Temporal header may carry as one. */
export const isRequestId = (value: unknown): value is string => typeof value === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(value);
