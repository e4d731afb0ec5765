/** Replaces the password of a URL (`scheme://user:password@host`) with `***`. */
export function maskUrl(url: string): string {
  return url.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]*@/gi, '$1***@');
}

/** Masks every URL password in a message, and every known secret. */
export function redact(message: string, secrets: Iterable<string> = []): string {
  let text = maskUrl(message);
  for (const secret of secrets) {
    if (secret.length > 0) text = text.split(secret).join('***');
  }
  return text;
}
