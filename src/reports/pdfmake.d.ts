/** pdfmake 0.3 ships no types; Busbar uses only this much of it (src/reports/pdf.ts). */
declare module "pdfmake" {
  const pdfmake: {
    setFonts(fonts: Record<string, Record<"normal" | "bold" | "italics" | "bolditalics", string>>): void;
    createPdf(definition: unknown): unknown;
  };
  export default pdfmake;
}
