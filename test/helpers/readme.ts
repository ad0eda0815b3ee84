// The README's fenced shell blocks, as a reader copies them: each block carries the marker written just
// above it (`<!-- readme-test: setup | check | run -->`) and its commands, continuation lines joined and
// split at `&&`, `||` and `;` outside quotes (comments dropped).

export type BlockKind = 'setup' | 'check' | 'run';

export interface ShellBlock {
  kind: BlockKind | null;
  /** Line number (1-based) of the opening fence, for messages. */
  line: number;
  text: string;
  commands: string[];
}

const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console']);

export function shellBlocks(markdown: string): ShellBlock[] {
  const lines = markdown.split('\n');
  const blocks: ShellBlock[] = [];
  let marker: BlockKind | null = null;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const m = /^<!--\s*readme-test:\s*(setup|check|run)\s*-->$/.exec(l.trim());
    if (m) {
      marker = m[1] as BlockKind;
      continue;
    }
    const fence = /^```(\w*)/.exec(l);
    if (!fence) {
      if (l.trim() !== '') marker = null;
      continue;
    }
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith('```')) body.push(lines[j++]!);
    if (SHELL_LANGS.has(fence[1]!)) {
      const text = body.join('\n');
      blocks.push({ kind: marker, line: i + 1, text, commands: splitCommands(text) });
    }
    marker = null;
    i = j;
  }
  return blocks;
}

/** Simple commands of a shell text: `a && b; c &` gives a, b, c (quotes respected, comments dropped). */
export function splitCommands(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  const src = text.replace(/\\\n/g, ' ');
  const push = (): void => {
    const c = cur.trim();
    if (c !== '') out.push(c);
    cur = '';
  };
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (quote) {
      if (ch === '\\' && quote === '"') {
        cur += ch + (src[++i] ?? '');
        continue;
      }
      if (ch === quote) quote = null;
      cur += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (ch === '#' && (cur === '' || /\s$/.test(cur))) {
      while (i < src.length && src[i] !== '\n') i++;
      push();
    } else if (ch === '\n' || ch === ';') {
      push();
    } else if ((ch === '&' || ch === '|') && src[i + 1] === ch) {
      push();
      i++;
    } else if (ch === '&' || ch === '|') {
      push();
    } else {
      cur += ch;
    }
  }
  push();
  return out;
}

/** Words of a simple command, quotes removed (no expansion: `"$hash"` stays `$hash`). */
export function words(command: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(command); m; m = re.exec(command)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}
