// Package metal is the Apple GPU Backend (to be documented).
package metal
