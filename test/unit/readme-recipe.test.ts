import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The code block after each `<!-- verbatim: <file> -->` marker of a page, by file. */
function verbatimBlocks(readme: string): Map<string, string> {
  const blocks = new Map<string, string>();
  const pattern = /<!-- verbatim: (\S+) -->\s*\n```[a-z]*\n([\s\S]*?)^```$/gm;
  for (const [, file, body] of readme.matchAll(pattern)) blocks.set(file!, body!);
  return blocks;
}

/** The manual's pages that show committed files verbatim. */
const CLIENTS = 'docs/clients.md';
const OPERATING = 'docs/operating.md';

describe("the manual's recipes are the committed files", () => {
  const blocks = new Map([...verbatimBlocks(read(CLIENTS)), ...verbatimBlocks(read(OPERATING))]);

  it.each(['examples/apollo-client.ts', 'codegen.yml', 'deploy/prometheus/alerts.yml'])('shows %s verbatim', (file) => {
    expect(blocks.has(file)).toBe(true);
    expect(blocks.get(file)).toBe(read(file));
  });

  it('notices a block that differs from its file', () => {
    const page = read(CLIENTS).replace('fragmentMasking: false', 'fragmentMasking: true');
    expect(verbatimBlocks(page).get('codegen.yml')).not.toBe(read('codegen.yml'));
    const edited = read(CLIENTS).replace("relayStylePagination(['filter', 'orderBy'])", 'relayStylePagination()');
    expect(verbatimBlocks(edited).get('examples/apollo-client.ts')).not.toBe(read('examples/apollo-client.ts'));
  });

  it('shows the Apollo Client recipe under its heading and the codegen config under Typed consumers', () => {
    const page = read(CLIENTS);
    const section = (heading: string) =>
      page.slice(page.indexOf(heading), page.indexOf('\n## ', page.indexOf(heading) + 1));
    expect(section('## Apollo Client')).toContain('<!-- verbatim: examples/apollo-client.ts -->');
    expect(section('## Typed consumers')).toContain('<!-- verbatim: codegen.yml -->');
  });
});
