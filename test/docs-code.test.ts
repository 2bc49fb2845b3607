/**
 * Every fenced code block in README.md and docs/*.md is checked, including blocks added later: the
 * rules (type-checked ts/js, shell commands that exist, marked output, unchecked with a reason)
 * are in test/support/doc-blocks.ts and docs/development.md. Node only: one TypeScript program
 * over every block, with `express-micro` mapped to src/index.ts.
 */
import { describe, expect, it } from 'vitest';
import { checkBlocks, shellCommands } from './support/doc-blocks.ts';
import { codeBlocks, markdownFiles, readMarkdown } from './support/markdown.ts';

/** Blocks that are each broken in one way, all of which the check must report. */
const BROKEN = `
\`\`\`ts
const micro = expressMicro(app, { serviceName: 'x', pingIntervall: 5 });
\`\`\`

\`\`\`ts
await services.userService.getUser({ id: 7 }); // compile error: but it compiles
\`\`\`

\`\`\`sh
npm run no-such-script
npx express-micro statu
npx express-micro status --no-such-flag
bash scripts/bench nodes
rm -rf /
\`\`\`

\`\`\`
some output, not marked
\`\`\`

\`\`\`yaml unchecked="short"
a: 1
\`\`\`

\`\`\`ts
declare module 'express-micro' { interface ServiceRegistry { a: { b(): Promise<void> } } }
\`\`\`
`;

describe('code blocks in README.md and docs/*.md', () => {
  it('are all checked and all pass, and a broken block of each kind fails', { timeout: 60_000 }, () => {
    const blocks = markdownFiles().flatMap((file) => codeBlocks(file, readMarkdown(file)));
    expect(blocks.length).toBeGreaterThan(40);
    // One run over the real blocks and the broken ones: one TypeScript program, not two.
    const problems = checkBlocks([...blocks, ...codeBlocks('broken.md', BROKEN)]);
    const real = problems.filter((problem) => !problem.where.startsWith('broken.md:'));
    expect(real).toEqual([]);
    const broken = problems.filter((problem) => problem.where.startsWith('broken.md:')).map((problem) => `${problem.where} ${problem.message}`);
    const expected = [
      /^broken\.md:3 does not compile: .*'pingIntervall' does not exist/,
      /^broken\.md:7 the text says this line does not compile/,
      /^broken\.md:11 package\.json has no script "no-such-script"/,
      /^broken\.md:12 express-micro has no command "statu"/,
      /^broken\.md:13 express-micro status has no option --no-such-flag/,
      /^broken\.md:14 scripts\/bench does not take "nodes"/,
      /^broken\.md:15 "rm" is neither a command of this project/,
      /^broken\.md:18 a block with no language/,
      /^broken\.md:22 unchecked="…" needs a reason/,
      /^broken\.md:26 a block that augments a module/,
    ];
    for (const pattern of expected) expect(broken.some((line) => pattern.test(line)), `${pattern} in:\n${broken.join('\n')}`).toBe(true);
    expect(broken).toHaveLength(expected.length);
  });

  it('reads shell commands as sh does: quotes, continuations, comments, && and pipes', () => {
    const commands = shellCommands(`npm install && npm run demo   # comment\nX=1 npx express-micro watch | tee a.log\ncurl -H 'a: b' \\\n  http://x\nnode -e '\nline\n' url\n# only a comment`);
    expect(commands.map((command) => command.words.join(' '))).toEqual(['npm install', 'npm run demo', 'X=1 npx express-micro watch', 'tee a.log', 'curl -H a: b http://x', 'node -e \nline\n url']);
    expect(commands.map((command) => command.line)).toEqual([0, 0, 1, 1, 2, 4]);
  });
});
