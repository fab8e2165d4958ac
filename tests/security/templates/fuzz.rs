//! Random command texts with templates: refused, or literal in every shell.
