// Markdown to safe HTML: marked (GFM, a single newline is a line break) with code highlighting, a
// copy button per code block and KaTeX math, then DOMPurify. Model output is untrusted: raw HTML in
// it is shown as text, images become links (the CSP allows no outside images), and the sanitizer
// removes anything executable.
import DOMPurify from "dompurify";
import { Marked, type Tokens } from "marked";
import { escape_html, highlight_code } from "./highlight";
import { block_math, inline_math } from "./math";

const marked = new Marked({ gfm: true, breaks: true, async: false });
marked.use({
  extensions: [block_math, inline_math],
  renderer: {
    code({ text, lang }: Tokens.Code) {
      const wanted = (lang ?? "").trim().split(/\s+/)[0];
      const { html, language } = highlight_code(text.replace(/\n$/, ""), wanted);
      const cls = language ? `hljs language-${escape_html(language)}` : "hljs";
      return (
        `<div class="code-block"><div class="code-head"><span class="code-lang">${escape_html(wanted || "text")}</span>` +
        `<button type="button" class="copy-code" aria-label="Copy code">Copy</button></div>` +
        `<pre><code class="${cls}">${html}</code></pre></div>\n`
      );
    },
    html({ text }: Tokens.HTML | Tokens.Tag) {
      return escape_html(text);
    },
    image({ href, text }: Tokens.Image) {
      return `<a href="${escape_html(href)}" class="image-link">${escape_html(text || href)}</a>`;
    },
  },
});

let hooked = false;
function purify(html: string): string {
  if (!hooked) {
    // Links open in a new tab without handing it this page.
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A" && node.hasAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    hooked = true;
  }
  return DOMPurify.sanitize(html, {
    FORBID_TAGS: ["style", "img", "form", "iframe", "object", "embed"],
    FORBID_ATTR: ["style"],
    ADD_ATTR: ["target"],
  });
}

export function render_markdown(src: string): string {
  return purify(marked.parse(src) as string);
}
