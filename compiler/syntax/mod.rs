//! Syntax: text to a spanned AST. pest parses (`parser`), `lower` turns the
//! pairs into `ast` nodes and the catch-all lines into diagnostics.

pub mod ast;
pub mod fmt;
pub mod lexer;
pub mod lower;
pub mod parser;

pub use lower::parse_file;
