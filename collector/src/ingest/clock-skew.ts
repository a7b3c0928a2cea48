const MAX_CORRECTION_MS = 100 * 365 * 24 * 3600_000;

/**
 * When the event happened (epoch ms), corrected for the device's clock: Segment's
 * `timestamp = receivedAt − (sentAt − originalTimestamp)`. A device whose clock runs an hour fast
 * stamps both `sentAt` and the event an hour ahead; the difference between them is still right.
 */
export function correctTimestamp(receivedAt: number, originalTimestamp?: number, sentAt?: number): number {
  if (originalTimestamp === undefined) return receivedAt;
  if (sentAt === undefined) return originalTimestamp;
  const corrected = receivedAt - (sentAt - originalTimestamp);
  // A sentAt centuries off is not a skewed clock but a broken one: keep what the device said.
  return Math.abs(corrected - receivedAt) < MAX_CORRECTION_MS ? corrected : originalTimestamp;
}
