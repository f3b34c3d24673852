package apiserver

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/story"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

func (s *Server) summaryRoutes(v1 *gin.RouterGroup) {
	v1.GET("/customers/:id/summary", s.auth(config.RoleCSM), s.getSummary)
}

// getSummary tells the account's story (internal/story) from the state as
// of now and the timeline: each sentence names the timeline entry behind
// it, numbered as GET .../timeline numbers them (older.count + position).
func (s *Server) getSummary(c *gin.Context) {
	id, ok := customerID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	now := s.opts.Now()
	var st workflows.State
	var tl workflows.Timeline
	err := s.queryInto(ctx, id, workflows.QueryState, &st, workflows.StateQuery{At: now})
	if err == nil {
		err = s.queryInto(ctx, id, workflows.QueryTimeline, &tl)
	}
	if err != nil {
		s.temporalError(c, err, id)
		return
	}
	c.JSON(http.StatusOK, story.Compose(st, tl, now))
}
