/** What came back from the collector; `status` is undefined when the request never got an answer. */
export interface TransportResponse {
  status: number;
  retryAfter: string | null;
  /** The body of the answer: which events were refused, and why. */
  text?: string;
}

/**
 * Sends one request body to the collector. Browser and Node each bring theirs (fetch with a text
 * body and no preflight; fetch with Basic auth). A network error rejects.
 */
export type Transport = (url: string, body: string, options?: { keepalive?: boolean }) => Promise<TransportResponse>;
