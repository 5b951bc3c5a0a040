// Small line icons as inline SVG elements (no icon font, nothing fetched); each is decorative,
// the button around it carries the aria-label.
import type { JSX } from "preact";

function icon(d: string) {
  return function Icon(): JSX.Element {
    return (
      <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
        <path d={d} />
      </svg>
    );
  };
}

export const IconPlus = icon("M12 5v14M5 12h14");
export const IconMenu = icon("M4 6h16M4 12h16M4 18h16");
export const IconEdit = icon("M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4");
export const IconTrash = icon("M5 7h14M10 11v6M14 11v6M7 7l1 13h8l1-13M9 7V4h6v3");
export const IconCopy = icon("M9 9h11v11H9zM5 15H4V4h11v1");
export const IconRefresh = icon("M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7");
export const IconContinue = icon("M5 12h12M13 6l6 6-6 6");
export const IconSend = icon("M4 12l16-8-6 16-3-7-7-1z");
export const IconStop = icon("M7 7h10v10H7z");
export const IconSettings = icon(
  "M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM19 12l2-1-2-4-2 1-2-2V4h-4v2L9 8 7 7 5 11l2 1v0l-2 1 2 4 2-1 2 2v2h4v-2l2-2 2 1 2-4-2-1z",
);
export const IconSun = icon("M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8zM12 2v2M12 20v2M2 12h2M20 12h2M5 5l1.5 1.5M17.5 17.5L19 19M5 19l1.5-1.5M17.5 6.5L19 5");
export const IconMoon = icon("M20 14.5A8 8 0 1 1 9.5 4a6.5 6.5 0 0 0 10.5 10.5z");
export const IconKey = icon("M14 10a4 4 0 1 0-3.5 4L12 16h2v2h2v2h4v-3l-6.5-6.5");
export const IconDownload = icon("M12 4v11M7 10l5 5 5-5M5 20h14");
export const IconUpload = icon("M12 20V9M7 14l5-5 5 5M5 4h14");
export const IconClose = icon("M6 6l12 12M18 6L6 18");
