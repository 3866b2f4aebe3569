// Package deptest holds the project's dependency rules as a test: which
// packages the engine's import graph may contain, and which packages the
// wire codec may import outside its Linux files. It has no code of its
// own.
package deptest
