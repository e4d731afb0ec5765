/**
 * `JSON.stringify(value, null, 2)`, written in pieces of about 64 KiB rather than built as one
 * string: the `--json` result of a reprocess of 200,000 runs (400,000 passes) is some 30 MB of
 * text, which as one string and then its bytes doubled the command's peak memory at its very end.
 * The text is the same, byte for byte.
 */
export function writeJson(write: (text: string) => void, value: unknown): void {
  // Pieces joined into one flat string per write: a string built by `+=` is a rope of every piece,
  // and a stream that queues its writes (stdout to a socket, as under a parent process) would keep
  // each rope whole, some 200 MB for a 30 MB result.
  let pieces: string[] = [];
  let length = 0;
  const out = (text: string) => {
    pieces.push(text);
    length += text.length;
    if (length >= 65_536) {
      write(pieces.join(''));
      pieces = [];
      length = 0;
    }
  };
  writeValue(out, value, '');
  pieces.push('\n');
  write(pieces.join(''));
}

/** What JSON.stringify leaves out of an object, and writes as null in an array. */
function isSkipped(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}

function writeValue(out: (text: string) => void, value: unknown, indent: string): void {
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    out(JSON.stringify(value, null, 2)?.replaceAll('\n', `\n${indent}`) ?? 'null');
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return out('[]');
    out('[\n');
    value.forEach((item: unknown, i) => {
      out(inner);
      writeValue(out, isSkipped(item) ? null : item, inner);
      out(i < value.length - 1 ? ',\n' : '\n');
    });
    return out(`${indent}]`);
  }
  const entries = Object.entries(value).filter(([, item]) => !isSkipped(item));
  if (entries.length === 0) return out('{}');
  out('{\n');
  entries.forEach(([key, item], i) => {
    out(`${inner}${JSON.stringify(key)}: `);
    writeValue(out, item, inner);
    out(i < entries.length - 1 ? ',\n' : '\n');
  });
  out(`${indent}}`);
}
