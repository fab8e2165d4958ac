#!/usr/bin/env python3
"""Turn a terminal capture with ANSI colours (`tmux capture-pane -e -p`) into an SVG.

Standard library only. Understands SGR: reset, bold, dim, italic, underline,
reverse, strike-through, the 16 colours (30-37, 90-97, 40-47, 100-107),
256 colours (38;5;N / 48;5;N) and truecolor (38;2;R;G;B / 48;2;R;G;B), with
`;` or `:` separators. Other escape sequences are dropped.

Text is placed cell by cell (every glyph gets its own x), so columns line up
whatever monospace font the viewer has. Box-drawing characters (light, heavy,
double, rounded) are drawn as lines rather than glyphs, so borders join
without gaps between rows.

    tmux capture-pane -e -p -t SESSION | ansi2svg.py --cols 160 --rows 48 > screen.svg
"""

import argparse
import html
import re
import sys
import unicodedata

# ---------------------------------------------------------------- palette ----

# A dark theme (the Catppuccin Mocha terminal colours).
DEFAULT_FG = "#cdd6f4"
DEFAULT_BG = "#1e1e2e"
CHROME_BG = "#181825"
CHROME_EDGE = "#313244"
ANSI16 = [
    "#45475a",  # 0 black
    "#f38ba8",  # 1 red
    "#a6e3a1",  # 2 green
    "#f9e2af",  # 3 yellow
    "#89b4fa",  # 4 blue
    "#f5c2e7",  # 5 magenta
    "#94e2d5",  # 6 cyan
    "#bac2de",  # 7 white
    "#585b70",  # 8 bright black
    "#f38ba8",  # 9 bright red
    "#a6e3a1",  # 10 bright green
    "#f9e2af",  # 11 bright yellow
    "#89b4fa",  # 12 bright blue
    "#f5c2e7",  # 13 bright magenta
    "#94e2d5",  # 14 bright cyan
    "#a6adc8",  # 15 bright white
]


def xterm256(n):
    if n < 16:
        return ANSI16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        r, g, b = steps[n // 36], steps[(n // 6) % 6], steps[n % 6]
        return "#%02x%02x%02x" % (r, g, b)
    v = 8 + 10 * (n - 232)
    return "#%02x%02x%02x" % (v, v, v)


def blend(a, b, t):
    """Mix colour a toward colour b by t (0..1)."""
    ca = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#%02x%02x%02x" % tuple(round(x + (y - x) * t) for x, y in zip(ca, cb))


# ---------------------------------------------------------------- parsing ----


class Style:
    __slots__ = ("fg", "bg", "bold", "dim", "italic", "underline", "reverse", "strike")

    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None  # None = default, else "#rrggbb"
        self.bg = None
        self.bold = self.dim = self.italic = False
        self.underline = self.reverse = self.strike = False

    def copy(self):
        s = Style()
        for k in self.__slots__:
            setattr(s, k, getattr(self, k))
        return s

    def resolved(self):
        """(fg, bg, bold, dim, italic, underline, strike) with defaults and reverse applied."""
        fg = self.fg or DEFAULT_FG
        bg = self.bg or DEFAULT_BG
        if self.reverse:
            fg, bg = bg, fg
        if self.dim:
            fg = blend(fg, bg, 0.45)
        return (fg, bg, self.bold, self.italic, self.underline, self.strike)


def apply_sgr(style, params):
    # Split "38:2::R:G:B" style sub-parameters as well as plain ";" lists.
    tokens = []
    for part in params.split(";") if params else ["0"]:
        if ":" in part:
            sub = [p for p in part.split(":")]
            # 38:2:CS:R:G:B has an optional colour-space id; drop an empty one.
            if len(sub) >= 2 and sub[1] == "2" and len(sub) == 6:
                sub = sub[:2] + sub[3:]
            tokens.append([int(p) if p else 0 for p in sub])
        else:
            tokens.append([int(part) if part else 0])
    flat = []
    for t in tokens:
        flat.extend(t)
    i = 0
    while i < len(flat):
        c = flat[i]
        if c == 0:
            style.reset()
        elif c == 1:
            style.bold = True
        elif c == 2:
            style.dim = True
        elif c == 3:
            style.italic = True
        elif c in (4, 21):
            style.underline = True
        elif c == 7:
            style.reverse = True
        elif c == 9:
            style.strike = True
        elif c == 22:
            style.bold = style.dim = False
        elif c == 23:
            style.italic = False
        elif c == 24:
            style.underline = False
        elif c == 27:
            style.reverse = False
        elif c == 29:
            style.strike = False
        elif 30 <= c <= 37:
            style.fg = ANSI16[c - 30]
        elif 90 <= c <= 97:
            style.fg = ANSI16[c - 90 + 8]
        elif 40 <= c <= 47:
            style.bg = ANSI16[c - 40]
        elif 100 <= c <= 107:
            style.bg = ANSI16[c - 100 + 8]
        elif c == 39:
            style.fg = None
        elif c == 49:
            style.bg = None
        elif c in (38, 48):
            target = "fg" if c == 38 else "bg"
            if i + 1 < len(flat) and flat[i + 1] == 5 and i + 2 < len(flat):
                setattr(style, target, xterm256(flat[i + 2] & 255))
                i += 2
            elif i + 1 < len(flat) and flat[i + 1] == 2 and i + 4 < len(flat):
                r, g, b = (x & 255 for x in flat[i + 2 : i + 5])
                setattr(style, target, "#%02x%02x%02x" % (r, g, b))
                i += 4
        i += 1


ESCAPE = re.compile(
    r"\x1b\[([0-9;:?<=>]*)([@-~])"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[()][0-9A-Za-z]"  # charset
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
)


def char_width(ch):
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def parse(text, cols, rows):
    """Return a grid rows x cols of (char, Style) cells."""
    grid = [[(" ", Style()) for _ in range(cols)] for _ in range(rows)]
    style = Style()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for y, line in enumerate(lines[:rows]):
        x = 0
        pos = 0
        for m in ESCAPE.finditer(line):
            x = put_text(grid, y, x, line[pos : m.start()], style, cols)
            if m.group(2) == "m":
                apply_sgr(style, m.group(1))
            pos = m.end()
        x = put_text(grid, y, x, line[pos:], style, cols)
        # Cells past the end of a line keep the current background, as a
        # terminal erasing to end of line would.
        if style.bg is not None or style.reverse:
            while x < cols:
                grid[y][x] = (" ", style.copy())
                x += 1
    return grid


def put_text(grid, y, x, s, style, cols):
    for ch in s:
        if ch in "\r\x07":
            continue
        if ch == "\t":
            nx = min(cols, (x // 8 + 1) * 8)
            while x < nx:
                grid[y][x] = (" ", style.copy())
                x += 1
            continue
        w = char_width(ch)
        if w == 0:
            if x > 0:
                c, st = grid[y][x - 1]
                grid[y][x - 1] = (c + ch, st)
            continue
        if x + w > cols:
            break
        grid[y][x] = (ch, style.copy())
        if w == 2:
            grid[y][x + 1] = ("", style.copy())  # the wide glyph's right half
        x += w
    return x


# ----------------------------------------------------------- box drawing ----

# For each box-drawing character, the weight of its arm going
# (up, right, down, left): 0 none, 1 light, 2 heavy, 3 double.
BOX = {}


def _box(chars, arms):
    for ch in chars:
        BOX[ch] = arms


_box("─", (0, 1, 0, 1))
_box("━", (0, 2, 0, 2))
_box("│", (1, 0, 1, 0))
_box("┃", (2, 0, 2, 0))
_box("┌╭", (0, 1, 1, 0))
_box("┐╮", (0, 0, 1, 1))
_box("└╰", (1, 1, 0, 0))
_box("┘╯", (1, 0, 0, 1))
_box("├", (1, 1, 1, 0))
_box("┤", (1, 0, 1, 1))
_box("┬", (0, 1, 1, 1))
_box("┴", (1, 1, 0, 1))
_box("┼", (1, 1, 1, 1))
_box("┏", (0, 2, 2, 0))
_box("┓", (0, 0, 2, 2))
_box("┗", (2, 2, 0, 0))
_box("┛", (2, 0, 0, 2))
_box("┣", (2, 2, 2, 0))
_box("┫", (2, 0, 2, 2))
_box("┳", (0, 2, 2, 2))
_box("┻", (2, 2, 0, 2))
_box("╋", (2, 2, 2, 2))
_box("═", (0, 3, 0, 3))
_box("║", (3, 0, 3, 0))
_box("╔", (0, 3, 3, 0))
_box("╗", (0, 0, 3, 3))
_box("╚", (3, 3, 0, 0))
_box("╝", (3, 0, 0, 3))
_box("╴", (0, 0, 0, 1))
_box("╵", (1, 0, 0, 0))
_box("╶", (0, 1, 0, 0))
_box("╷", (0, 0, 1, 0))
ROUNDED = set("╭╮╰╯")
BLOCKS = {"█": (0, 0, 1, 1), "▀": (0, 0, 1, 0.5), "▄": (0, 0.5, 1, 0.5),
          "▌": (0, 0, 0.5, 1), "▐": (0.5, 0, 0.5, 1)}


# ------------------------------------------------------------------ render ---


def fmt(v):
    s = "%.2f" % v
    s = s.rstrip("0").rstrip(".")
    return s or "0"


def render(grid, cols, rows, font_size, title, cursor):
    cw = round(font_size * 0.6, 2)  # cell width (DejaVu/Menlo advance is 0.6em)
    ch = round(font_size * 1.25, 2)  # cell height
    light = max(1.0, font_size / 13)
    heavy = light * 2.1
    dbl_gap = light * 1.4  # half the distance between the two strokes of a double line
    pad = round(font_size)
    bar = round(font_size * 2.2) if title else 0
    width = cols * cw + 2 * pad
    height = rows * ch + 2 * pad + bar
    ox, oy = pad, pad + bar  # origin of the cell grid

    out = []
    out.append(
        '<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s">'
        % (fmt(width), fmt(height), fmt(width), fmt(height))
    )
    out.append(
        "<style>text{font-family:'DejaVu Sans Mono','SFMono-Regular',Menlo,Consolas,"
        "'Liberation Mono',monospace;font-size:%spx;white-space:pre}"
        ".b{font-weight:bold}.i{font-style:italic}</style>" % fmt(font_size)
    )
    out.append(
        '<rect width="100%%" height="100%%" rx="%s" fill="%s" stroke="%s"/>'
        % (fmt(pad * 0.6), CHROME_BG if title else DEFAULT_BG, CHROME_EDGE)
    )
    if title:
        r = font_size * 0.42
        for k, colour in enumerate(("#f38ba8", "#f9e2af", "#a6e3a1")):
            out.append(
                '<circle cx="%s" cy="%s" r="%s" fill="%s"/>'
                % (fmt(pad + r + k * r * 3.2), fmt(pad * 0.5 + bar * 0.5), fmt(r), colour)
            )
        out.append(
            '<text x="%s" y="%s" fill="#a6adc8" text-anchor="middle">%s</text>'
            % (fmt(width / 2), fmt(pad * 0.5 + bar * 0.5 + font_size * 0.35), html.escape(title))
        )
        out.append(
            '<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>'
            % (fmt(ox - pad / 2), fmt(oy - pad / 2), fmt(cols * cw + pad), fmt(rows * ch + pad), DEFAULT_BG)
        )

    cells = [[(c, st.resolved()) for c, st in row] for row in grid]

    # Backgrounds: runs of one colour per row.
    for y, row in enumerate(cells):
        x = 0
        while x < cols:
            bg = row[x][1][1]
            x2 = x
            while x2 < cols and row[x2][1][1] == bg:
                x2 += 1
            if bg != DEFAULT_BG:
                out.append(
                    '<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>'
                    % (fmt(ox + x * cw), fmt(oy + y * ch), fmt((x2 - x) * cw + 0.3), fmt(ch + 0.3), bg)
                )
            x = x2

    # Box drawing as strokes. Horizontal and vertical half-cell segments are
    # merged per line so that long borders are one stroke each.
    hseg = {}  # (y2, colour, width) -> list of (x_start, x_end) in half-cells
    vseg = {}
    paths = {}  # (colour, width) -> list of path strings (corners)
    blocks = []

    def seg(store, key, a, b):
        store.setdefault(key, []).append((a, b))

    for y, row in enumerate(cells):
        for x, (c, st) in enumerate(row):
            fg = st[0]
            if c in BLOCKS:
                bx, by, bw, bh = BLOCKS[c]
                blocks.append(
                    '<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>'
                    % (fmt(ox + (x + bx) * cw), fmt(oy + (y + by) * ch), fmt(bw * cw + 0.3), fmt(bh * ch + 0.3), fg)
                )
                continue
            arms = BOX.get(c)
            if not arms:
                continue
            up, right, down, left = arms
            cx = ox + (x + 0.5) * cw
            cy = oy + (y + 0.5) * ch
            if c in ROUNDED:
                rad = cw * 0.5
                sx = 1 if right else -1
                sy = 1 if down else -1
                ex = ox + (x + (1 if right else 0)) * cw
                ey = oy + (y + (1 if down else 0)) * ch
                paths.setdefault((fg, light), []).append(
                    "M%s %sH%sQ%s %s %s %sV%s"
                    % (fmt(ex), fmt(cy), fmt(cx + sx * rad), fmt(cx), fmt(cy), fmt(cx), fmt(cy + sy * rad), fmt(ey))
                )
                continue
            doubles = [w == 3 for w in arms]
            if any(doubles) and sum(1 for w in arms if w) == 2 and (up or down) and (left or right):
                # A double-line corner: two nested L shapes.
                sx = 1 if right else -1
                sy = 1 if down else -1
                ex = ox + (x + (1 if right else 0)) * cw
                ey = oy + (y + (1 if down else 0)) * ch
                d = dbl_gap
                for k in (-1, 1):
                    px = cx + k * sx * d
                    py = cy + k * sy * d
                    paths.setdefault((fg, light), []).append(
                        "M%s %sH%sV%s" % (fmt(ex), fmt(py), fmt(px), fmt(ey))
                    )
                continue
            # Straight arms from the centre. Key by exact pixel line so runs merge.
            horiz = [(left, x * 2, x * 2 + 1), (right, x * 2 + 1, x * 2 + 2)]
            vert = [(up, y * 2, y * 2 + 1), (down, y * 2 + 1, y * 2 + 2)]
            for w, a, b in horiz:
                if not w:
                    continue
                if w == 3:
                    for k in (-1, 1):
                        seg(hseg, (round(cy + k * dbl_gap, 2), fg, light), a, b)
                else:
                    seg(hseg, (round(cy, 2), fg, heavy if w == 2 else light), a, b)
            for w, a, b in vert:
                if not w:
                    continue
                if w == 3:
                    for k in (-1, 1):
                        seg(vseg, (round(cx + k * dbl_gap, 2), fg, light), a, b)
                else:
                    seg(vseg, (round(cx, 2), fg, heavy if w == 2 else light), a, b)

    def merged(spans):
        spans.sort()
        runs = []
        for a, b in spans:
            if runs and a <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], b)
            else:
                runs.append([a, b])
        return runs

    strokes = {}
    for (py, fg, w), spans in hseg.items():
        for a, b in merged(spans):
            x1, x2 = ox + a * cw / 2, ox + b * cw / 2
            # An arm that ends at a cell's centre runs on by half its width so
            # that corners and tees close square.
            if a % 2 == 1:
                x1 -= w / 2
            if b % 2 == 1:
                x2 += w / 2
            strokes.setdefault((fg, w), []).append("M%s %sH%s" % (fmt(x1), fmt(py), fmt(x2)))
    for (px, fg, w), spans in vseg.items():
        for a, b in merged(spans):
            y1, y2 = oy + a * ch / 2, oy + b * ch / 2
            if a % 2 == 1:
                y1 -= w / 2
            if b % 2 == 1:
                y2 += w / 2
            strokes.setdefault((fg, w), []).append("M%s %sV%s" % (fmt(px), fmt(y1), fmt(y2)))
    for key, ds in paths.items():
        strokes.setdefault(key, []).extend(ds)
    for (fg, w), ds in sorted(strokes.items()):
        out.append(
            '<path d="%s" stroke="%s" stroke-width="%s" fill="none"/>' % ("".join(ds), fg, fmt(w))
        )
    out.extend(blocks)

    # Text: one <text> per run of one style in a row, with a <tspan> placed at
    # its own cell for every word of ASCII and for every other glyph alone, so
    # columns line up even where a viewer falls back to another font for a
    # symbol. (Per-tspan x works everywhere; a list of x values per glyph
    # does not in librsvg.)
    base = ch * 0.5 + font_size * 0.36
    lines = []
    for y, row in enumerate(cells):
        x = 0
        while x < cols:
            c, st = row[x]
            if c in ("", " ") or c in BOX or c in BLOCKS:
                x += 1
                continue
            x2 = x
            pieces = []  # [start_col, text]
            while x2 < cols:
                c2, st2 = row[x2]
                if st2 != st or c2 in BOX or c2 in BLOCKS:
                    break
                if c2 not in ("", " "):
                    joinable = c2.isascii() and pieces and pieces[-1][1][-1:].isascii()
                    if joinable and pieces[-1][0] + len(pieces[-1][1]) == x2:
                        pieces[-1][1] += c2
                    else:
                        pieces.append([x2, c2])
                x2 += 1
            fg, _bg, bold, italic, underline, strike = st
            cls = " ".join(n for n, on in (("b", bold), ("i", italic)) if on)
            spans = "".join(
                '<tspan x="%s">%s</tspan>' % (fmt(ox + px * cw), html.escape(t, quote=False)) for px, t in pieces
            )
            out.append(
                '<text y="%s" fill="%s"%s>%s</text>'
                % (fmt(oy + y * ch + base), fg, ' class="%s"' % cls if cls else "", spans)
            )
            last = pieces[-1][0] + sum(char_width(g) for g in pieces[-1][1]) if pieces else x2
            for on, at in ((underline, ch - light * 1.5), (strike, ch * 0.55)):
                if on:
                    lines.append(
                        '<path d="M%s %sH%s" stroke="%s" stroke-width="%s"/>'
                        % (fmt(ox + x * cw), fmt(oy + y * ch + at), fmt(ox + last * cw), fg, fmt(light))
                    )
            x = x2
    out.extend(lines)

    if cursor:
        cx, cy = cursor
        if 0 <= cx < cols and 0 <= cy < rows:
            out.append(
                '<rect x="%s" y="%s" width="%s" height="%s" fill="%s" opacity="0.75"/>'
                % (fmt(ox + cx * cw), fmt(oy + cy * ch), fmt(cw), fmt(ch), DEFAULT_FG)
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", nargs="?", help="capture file (default: stdin)")
    ap.add_argument("-o", "--output", help="SVG file (default: stdout)")
    ap.add_argument("--cols", type=int, help="width in cells (default: longest line)")
    ap.add_argument("--rows", type=int, help="height in cells (default: number of lines)")
    ap.add_argument("--font-size", type=float, default=14)
    ap.add_argument("--title", help="draw a window title bar with this text")
    ap.add_argument("--cursor", help="X,Y: draw a block cursor at this cell")
    args = ap.parse_args()

    if args.input:
        with open(args.input, encoding="utf-8", errors="replace") as f:
            text = f.read()
    else:
        text = sys.stdin.read()
    plain = ESCAPE.sub("", text).split("\n")
    if plain and plain[-1] == "":
        plain.pop()
    cols = args.cols or max((sum(char_width(c) for c in line) for line in plain), default=1)
    rows = args.rows or max(1, len(plain))
    cursor = None
    if args.cursor:
        cx, cy = args.cursor.split(",")
        cursor = (int(cx), int(cy))
    svg = render(parse(text, cols, rows), cols, rows, args.font_size, args.title, cursor)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(svg)
    else:
        sys.stdout.write(svg)


if __name__ == "__main__":
    main()
