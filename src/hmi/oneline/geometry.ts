/** Sizes shared by the layout (where things go) and the symbols (how they are drawn), in SVG px. */

/** Half size of a breaker symbol. */
export const BRK = 16;
/** Source symbol radius (half size). */
export const SRC = 30;
/** Half width and half height of the ATS box. */
export const ATS_W = 65;
export const ATS_H = 30;
/** Text line height. */
export const LINE_H = 20;
