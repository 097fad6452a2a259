//! GitHub REST simulator (placeholder while the git remote is built).
