// LaTeX math for marked: $$...$$ and \[...\] as display math, $...$ and \(...\) inline, rendered
// by KaTeX as MathML (browsers draw MathML Core natively; KaTeX's HTML output needs style
// attributes that the server's CSP forbids).
import katex from "katex";
import type { TokenizerAndRendererExtension, Tokens } from "marked";

// The TeX source annotation is dropped: the sanitizer rejects <semantics>/<annotation> (an mXSS
// vector), and keeping only their text would show the source beside the formula.
export function render_math(tex: string, display: boolean): string {
  const html = katex.renderToString(tex, {
    output: "mathml",
    displayMode: display,
    throwOnError: false,
    strict: "ignore",
    trust: false,
    maxExpand: 1000,
  });
  return html.replace(/<annotation[^>]*>[\s\S]*?<\/annotation>/g, "").replace(/<\/?semantics>/g, "");
}

interface MathToken extends Tokens.Generic {
  text: string;
  display: boolean;
}

const block_re = /^ {0,3}(?:\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]) *(?:\n+|$)/;
// Inline: $$..$$, \(..\), \[..\], and $..$ with no space inside its ends and no digit after it
// (so "$5 and $10" stays text).
const inline_res: [RegExp, boolean][] = [
  [/^\$\$((?:\\.|[^\\$])+?)\$\$/, true],
  [/^\\\(([\s\S]+?)\\\)/, false],
  [/^\\\[([\s\S]+?)\\\]/, true],
  [/^\$(?![\s$])((?:\\.|[^\\$\n`])+?)(?<!\s)\$(?!\d)/, false],
];

export const block_math: TokenizerAndRendererExtension = {
  name: "block_math",
  level: "block",
  start(src: string) {
    const m = /^ {0,3}(\$\$|\\\[)/m.exec(src);
    return m ? m.index : undefined;
  },
  tokenizer(src: string) {
    const m = block_re.exec(src);
    if (!m) return undefined;
    return { type: "block_math", raw: m[0], text: (m[1] ?? m[2]).trim(), display: true } as MathToken;
  },
  renderer(token) {
    return `<div class="math-block">${render_math((token as MathToken).text, true)}</div>\n`;
  },
};

export const inline_math: TokenizerAndRendererExtension = {
  name: "inline_math",
  level: "inline",
  // Where the next math might start; a "\" before "$" is returned so the escape "\$" still works.
  start(src: string) {
    const m = /\\?\$|\\\(|\\\[/.exec(src);
    return m ? m.index : undefined;
  },
  tokenizer(src: string) {
    for (const [re, display] of inline_res) {
      const m = re.exec(src);
      if (m) return { type: "inline_math", raw: m[0], text: m[1].trim(), display } as MathToken;
    }
    return undefined;
  },
  renderer(token) {
    return render_math((token as MathToken).text, (token as MathToken).display);
  },
};
