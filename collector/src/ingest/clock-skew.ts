/**
 * When the event happened, corrected for the device's clock: Segment's
 * `timestamp = receivedAt − (sentAt − originalTimestamp)`. A device whose clock runs an hour fast
 * stamps both `sentAt` and the event an hour ahead; the difference between them is still right.
 */
export function correctTimestamp(receivedAt: Date, originalTimestamp?: string, sentAt?: string): Date {
  if (!originalTimestamp) return receivedAt;
  const original = Date.parse(originalTimestamp);
  if (!sentAt) return new Date(original);
  return new Date(receivedAt.getTime() - (Date.parse(sentAt) - original));
}
