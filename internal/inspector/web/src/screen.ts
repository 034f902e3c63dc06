// Just enough of a terminal to read a shell: carriage returns, newlines,
// backspace and "erase to end of line"; every other escape sequence (colours,
// cursor keys, bracketed paste) is dropped. A sequence split across two
// chunks waits for the rest. This is a console for commands, not a full
// terminal emulator.

// CSI (ESC [ … final), OSC (ESC ] … BEL or ST), charset picks, and the
// two-byte escapes (any printable but the CSI and OSC introducers).
const ESCAPE = /^\x1b(?:\[([0-?]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()#][0-9A-Za-z]|[ -Z\\^-~])/;
const MAX_LINES = 2000;

export class Screen {
  private lines: string[] = [""];
  private col = 0;
  private pending = "";

  write(chunk: string): void {
    const s = this.pending + chunk;
    this.pending = "";
    let i = 0;
    while (i < s.length) {
      const ch = s[i]!;
      if (ch === "\x1b") {
        const m = ESCAPE.exec(s.slice(i, i + 256));
        if (!m) {
          if (s.length - i < 256) {
            this.pending = s.slice(i); // the rest of the sequence is in the next chunk
            return;
          }
          i++;
          continue;
        }
        if (m[2] === "K") this.eraseToEnd();
        i += m[0].length;
        continue;
      }
      i++;
      if (ch === "\r") this.col = 0;
      else if (ch === "\n") this.newline();
      else if (ch === "\b") this.col = Math.max(0, this.col - 1);
      else if (ch >= " " || ch === "\t") this.put(ch);
    }
  }

  text(): string {
    return this.lines.join("\n");
  }

  private put(ch: string): void {
    const line = this.lines[this.lines.length - 1]!;
    const padded = line.length < this.col ? line.padEnd(this.col) : line;
    this.lines[this.lines.length - 1] = padded.slice(0, this.col) + ch + padded.slice(this.col + 1);
    this.col++;
  }

  private eraseToEnd(): void {
    const last = this.lines.length - 1;
    this.lines[last] = this.lines[last]!.slice(0, this.col);
  }

  private newline(): void {
    this.lines.push("");
    this.col = 0;
    if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
  }
}
