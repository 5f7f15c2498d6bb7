/**
 * Secrets have recognisable shapes: a full API key (pak_<env>_<id>_<secret>_<checksum>), a
 * partner request token (prt_…) or an operator token (pat_…). Anything matching them in a
 * history, a log, an export or a database file is a leak, whoever's key it is.
 */
export const secretPatterns = [
  /pak_(?:test|live)_[0-9A-Za-z]{16}_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}/,
  /\bprt_[0-9A-Za-z]{40,}/,
  /\bpat_[0-9A-Za-z]{40,}/,
];

export function findSecrets(text: string): string[] {
  return secretPatterns.flatMap((pattern) => {
    const match = new RegExp(pattern.source, 'g');
    return [...text.matchAll(match)].map((m) => m[0]);
  });
}
