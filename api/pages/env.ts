import type { AppEnv } from '../auth.js';

/** What a page handler reads from its context: the API's (principal, request id, log) plus the page's own. */
export type PageAppEnv = {
  Variables: AppEnv['Variables'] & {
    cspNonce: string;
    /** the value every form of this page echoes in `_csrf` (session.ts) */
    csrfToken: string;
    /** the request reached us over TLS (session.ts: cookies get Secure and the __Host- prefix) */
    tls: boolean;
    /** set when the request came with a live session */
    sessionIdHash?: string;
  };
};
