package oci

import (
	"context"
	"io"
)

// ContextReader returns a reader that stops a long copy or hash when ctx is
// done: each Read first checks ctx and, once it is done, fails with its
// cause (context.Cause), which is ctx.Err() unless a cause was given.
func ContextReader(ctx context.Context, r io.Reader) io.Reader {
	return &contextReader{ctx: ctx, r: r}
}

type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *contextReader) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}
