/** Deterministic payload text of a given size: cheap to build, distinct per event. */
export function makePayload(label: string, bytes: number): string {
  if (bytes <= label.length) return label.slice(0, bytes);
  const unit = `${label}|`;
  return unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes);
}
