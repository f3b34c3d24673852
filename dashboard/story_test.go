package dashboard

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The customer page opens with the account's story; every sentence links
// to its timeline row, which the page has, with the step the sentence
// tells of.
func TestCustomerPageTellsTheStory(t *testing.T) {
	e := startEnv(t, true)
	e.startCustomer(t, "sigma", "Sigma & Sons", "grace@vendor.example")
	hc, _ := browserless(t, e)
	page := pageOf(t, hc, e.URL+"/ui/customers/sigma")

	story := regexp.MustCompile(`(?s)<p class="story" id="story"[^>]*>(.*?)</p>`).FindStringSubmatch(page)
	require.NotNil(t, story, "the story is on the page")
	assert.Less(t, strings.Index(page, `id="story"`), strings.Index(page, `id="tl-title"`), "at the top, before the timeline")
	links := regexp.MustCompile(`<a href="#entry-(\d+)" class="story-(\w+)" data-entry="(\d+)">([^<]*)</a>`).FindAllStringSubmatch(story[1], -1)
	require.NotEmpty(t, links)
	var text []string
	for _, l := range links {
		assert.Equal(t, l[1], l[3])
		row := regexp.MustCompile(`<tr id="entry-` + l[1] + `" data-step="([^"]*)">`).FindStringSubmatch(page)
		require.NotNil(t, row, "sentence %q links to a timeline row", l[4])
		text = append(text, html.UnescapeString(l[4]))
	}
	all := strings.Join(text, "\n")
	assert.Contains(t, all, "“Sigma & Sons” started its journey on ")
	assert.Contains(t, all, "The handoff call has not been held")
	assert.Contains(t, all, "To do: New customer Sigma & Sons: hold the handoff call")
	assert.Contains(t, page, `class="story-risk"`)

	// The polled part carries the story too.
	live := pageOf(t, hc, e.URL+"/ui/customers/sigma/live")
	assert.Contains(t, live, `<p class="story" id="story"`)
}

// In a browser, a sentence of the story takes the reader to its timeline
// row: the row is the page's target, in view, and tells of the same step.
func TestBrowserStoryLinksToItsTimelineRow(t *testing.T) {
	ctx := browser(t)
	e := startEnv(t, true)
	e.startCustomer(t, "tau", "Tau GmbH", "grace@vendor.example")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/ui/customers/tau"),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), csmKey),
		chromedp.Submit(chromedp.ID("key")),
		chromedp.WaitVisible(css(`#story a.story-risk`)),
		chromedp.Click(css(`#story a.story-risk`)),
		chromedp.WaitVisible(css(`tr:target`)),
	))
	entry := run(t, ctx, chromedp.AttributeValue(css(`#story a.story-risk`), "data-entry")).Value
	assert.Equal(t, "#entry-"+entry, run(t, ctx, chromedp.Evaluate[string](`location.hash`)))
	assert.Equal(t, "handoff:welcome", run(t, ctx, chromedp.Evaluate[string](`document.querySelector("tr:target").dataset.step`)))
	assert.True(t, run(t, ctx, chromedp.Evaluate[bool](`(() => { const r = document.querySelector("tr:target").getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight })()`)),
		"the row is scrolled into view")
}
