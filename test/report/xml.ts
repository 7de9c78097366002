// Minimal XML well-formedness check for generated SVG (no XML parser is installed):
// balanced tags, quoted attributes, known entities only.
export function checkWellFormed(xml: string): string | undefined {
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<|&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/gi;
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml))) {
    if (m[0] === '<') return `stray "<" at ${m.index}: ${xml.slice(m.index, m.index + 40)}`;
    if (m[0].startsWith('&')) return `bad entity at ${m.index}: ${xml.slice(m.index, m.index + 20)}`;
    if (!m[2]) continue;
    if (m[1]) {
      const open = stack.pop();
      if (open !== m[2]) return `</${m[2]}> closes <${open}>`;
    } else if (!m[4]) stack.push(m[2]);
  }
  return stack.length ? `unclosed <${stack.join('>, <')}>` : undefined;
}
