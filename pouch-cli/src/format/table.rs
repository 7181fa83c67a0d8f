//! Column alignment as Go's `text/tabwriter` does it with the settings of
//! Docker's formatter (`minwidth 10, tabwidth 1, padding 3, padchar ' '`):
//! cells are tab-terminated, the text after the last tab of a line is not
//! part of a column, and a column block is a run of consecutive lines that
//! have a cell in that column.

/// Aligns tab-separated text.
#[derive(Debug, Clone)]
pub struct TabWriter {
    minwidth: usize,
    padding: usize,
    buf: String,
}

impl Default for TabWriter {
    fn default() -> Self {
        Self::docker()
    }
}

impl TabWriter {
    /// Docker's table settings.
    pub fn docker() -> Self {
        Self::new(10, 3)
    }

    pub fn new(minwidth: usize, padding: usize) -> Self {
        Self {
            minwidth,
            padding,
            buf: String::new(),
        }
    }

    /// Append text (tabs separate cells, newlines lines).
    pub fn write(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    /// The aligned text.
    pub fn render(&self) -> String {
        let mut lines: Vec<Vec<&str>> = self
            .buf
            .split('\n')
            .map(|l| l.split('\t').collect())
            .collect();
        // `split` yields a last empty line after a final newline: it is the
        // (empty) unterminated rest, kept so the output ends the same way.
        let ends_with_newline = self.buf.ends_with('\n');
        if ends_with_newline {
            lines.pop();
        }
        let mut out = String::new();
        let mut widths = Vec::new();
        self.format(&lines, 0, lines.len(), &mut widths, &mut out);
        if !ends_with_newline && out.ends_with('\n') {
            out.pop();
        }
        out
    }

    fn format(
        &self,
        lines: &[Vec<&str>],
        mut line0: usize,
        line1: usize,
        widths: &mut Vec<usize>,
        out: &mut String,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            // Cells are tab-terminated: the last one of a line is no column.
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            // A column block starts here: print the lines before it.
            write_lines(lines, line0, this, widths, out);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && column + 1 < lines[this].len() {
                width = width.max(cell_width(lines[this][column]) + self.padding);
                this += 1;
            }
            widths.push(width);
            self.format(lines, line0, this, widths, out);
            widths.pop();
            line0 = this;
        }
        write_lines(lines, line0, line1, widths, out);
    }
}

fn cell_width(s: &str) -> usize {
    s.chars().count()
}

fn write_lines(lines: &[Vec<&str>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for line in &lines[from..to] {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(&w) = widths.get(j) {
                if j + 1 < line.len() {
                    let pad = w.saturating_sub(cell_width(cell));
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn align(s: &str) -> String {
        let mut w = TabWriter::docker();
        w.write(s);
        w.render()
    }

    #[test]
    fn docker_ps_layout() {
        let out = align(
            "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n\
             0123456789ab\tbusybox\t\"sleep 100\"\t2 seconds ago\tUp 1 second\t\tweb\n",
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "CONTAINER ID   IMAGE     COMMAND       CREATED         STATUS        PORTS     NAMES"
        );
        assert_eq!(
            lines[1],
            "0123456789ab   busybox   \"sleep 100\"   2 seconds ago   Up 1 second             web"
        );
        assert!(out.ends_with("web\n"));
    }

    #[test]
    fn minwidth_padding_and_unicode() {
        // Short columns are padded to 10, others to the widest + 3.
        assert_eq!(align("a\tb\nccc\td\n"), "a         b\nccc       d\n");
        assert_eq!(
            align("0123456789ab\tx\n\"é…\"\ty\n"),
            "0123456789ab   x\n\"é…\"           y\n"
        );
        // No trailing newline in, none out; no tabs, no alignment.
        assert_eq!(align("just text"), "just text");
        assert_eq!(align(""), "");
    }

    #[test]
    fn column_blocks() {
        // The middle line has no cell in the first column: it splits the
        // column into two blocks aligned independently.
        let out = align("aaaaaaaaaaaaaaa\tb\nno tabs here\nc\td\n");
        assert_eq!(out, "aaaaaaaaaaaaaaa   b\nno tabs here\nc         d\n");
    }
}
