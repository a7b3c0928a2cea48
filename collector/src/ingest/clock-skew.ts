const MAX_CORRECTION_MS = 100 * 365 * 24 * 3600_000;

/**
 * When the event happened, corrected for the device's clock: Segment's
 * `timestamp = receivedAt − (sentAt − originalTimestamp)`. A device whose clock runs an hour fast
 * stamps both `sentAt` and the event an hour ahead; the difference between them is still right.
 */
export function correctTimestamp(receivedAt: Date, originalTimestamp?: string, sentAt?: string): Date {
  if (!originalTimestamp) return receivedAt;
  const original = Date.parse(originalTimestamp);
  if (!sentAt) return new Date(original);
  const corrected = receivedAt.getTime() - (Date.parse(sentAt) - original);
  // A sentAt centuries off is not a skewed clock but a broken one: keep what the device said.
  return Math.abs(corrected - receivedAt.getTime()) < MAX_CORRECTION_MS ? new Date(corrected) : new Date(original);
}
