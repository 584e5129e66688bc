//! Request traces (a workload's `trace = "FILE"`, `hplanc simulate --trace FILE`): one request per line,
//! `arrival_s,input_tokens,output_tokens`, an optional header line naming those columns,
//! blank lines and `#` comments. Every bad line is a diagnostic at its file, line and
//! column; a trace with any is not simulated.

use crate::diagnostics::{catalog, Diagnostics};
pub use crate::ir::TraceRow as Row;
use crate::ir::{SIM_MAX_LENGTH as MAX_LENGTH, SIM_MAX_REQUESTS as MAX_REQUESTS};
use crate::source::{FileId, Span};

const HEADER: [&str; 3] = ["arrival_s", "input_tokens", "output_tokens"];

/// Reads `text` (file `file`); `None` after any diagnostic.
pub fn parse(file: FileId, text: &str, diags: &mut Diagnostics) -> Option<Vec<Row>> {
    let before = diags.error_count();
    let mut rows = Vec::new();
    let mut seen_line = false;
    let mut last: Option<f64> = None;
    for line in crate::source::csv_lines(file, text) {
        let (cells, row_span) = (line.cells, line.span);
        let first = !seen_line;
        seen_line = true;
        if first && cells.iter().map(|c| c.0).eq(HEADER) {
            continue;
        }
        if cells.len() != 3 {
            diags.push(catalog::trace_cells(row_span, cells.len()));
            continue;
        }
        if rows.len() as u64 >= MAX_REQUESTS {
            diags.push(catalog::trace_too_long(row_span, MAX_REQUESTS));
            return None;
        }
        let arrival = match cells[0].0.parse::<f64>() {
            Ok(t) if t.is_finite() && t >= 0.0 => Some(t),
            Ok(_) => {
                diags.push(catalog::trace_arrival(cells[0].1, cells[0].0));
                None
            }
            Err(_) => {
                diags.push(catalog::trace_not_a_number(cells[0].1, HEADER[0], cells[0].0));
                None
            }
        };
        let mut length = |k: usize| -> Option<u64> {
            let (text, span) = cells[k];
            // whole numbers in any notation (`2048`, `2e3`); a negative, fractional or
            // too large one is a bad length, anything else not a number
            match text.parse::<f64>() {
                Ok(x) if x.fract() == 0.0 && (1.0..=MAX_LENGTH as f64).contains(&x) => Some(x as u64),
                Ok(_) => {
                    diags.push(catalog::trace_length(span, HEADER[k], text, MAX_LENGTH));
                    None
                }
                Err(_) => {
                    diags.push(catalog::trace_not_a_number(span, HEADER[k], text));
                    None
                }
            }
        };
        let (input, output) = (length(1), length(2));
        if let Some(t) = arrival {
            if let Some(prev) = last.filter(|&p| t < p) {
                diags.push(catalog::trace_out_of_order(cells[0].1, t, prev));
            }
            last = Some(last.map_or(t, |p: f64| p.max(t)));
        }
        if let (Some(arrival), Some(input), Some(output)) = (arrival, input, output) {
            rows.push(Row { arrival, input, output });
        }
    }
    if diags.error_count() > before {
        return None;
    }
    if rows.is_empty() {
        diags.push(catalog::trace_empty(Span::new(file, 0, text.len().min(1))));
        return None;
    }
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Option<Vec<Row>>, Vec<String>) {
        let mut d = Diagnostics::new();
        let rows = parse(FileId(0), text, &mut d);
        (rows, d.iter().map(|x| format!("{} {}", x.code, x.message)).collect())
    }

    #[test]
    fn a_trace_reads_with_its_header_comments_and_blank_lines() {
        let (rows, diags) = read("# a trace\narrival_s,input_tokens,output_tokens\n0,100,10\n\n0.5, 200 ,20\r\n0.5,1,1\n0.75,2e3,1\n");
        assert!(diags.is_empty(), "{diags:?}");
        let rows = rows.unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1], Row { arrival: 0.5, input: 200, output: 20 });
        assert_eq!(rows[3].input, 2000);
    }

    #[test]
    fn every_bad_line_is_reported_and_nothing_is_returned() {
        let (rows, diags) = read("0,100,10\nx,1,1\n1,0,5\n2,-3,5\n0.5,10,10\n3,10\n4,1.5,2\n");
        assert!(rows.is_none());
        assert_eq!(diags.len(), 6, "{diags:?}");
        assert!(diags[0].contains("`x` is not a number"));
        assert!(diags[1].contains("`0` is not a token count"));
        assert!(diags[2].contains("`-3` is not a token count"));
        assert!(diags[3].contains("before the line above"));
        assert!(diags[4].contains("3 fields") || diags[4].contains("2 fields"), "{diags:?}");
        assert!(diags[5].contains("`1.5` is not a token count"));
        let (rows, diags) = read("# nothing\n\n");
        assert!(rows.is_none() && diags[0].contains("no requests"));
        let (_, diags) = read("-1,5,5\n");
        assert!(diags[0].contains("negative"));
    }
}
