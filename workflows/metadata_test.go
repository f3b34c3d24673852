package workflows_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

func TestStartMetadataIsEscapedAndFitsTemporalsLimits(t *testing.T) {
	in := testInput(playbooks.Default())
	assert.Equal(t, "Acme Corp · enterprise plan · CSM Grace Hopper", workflows.StartSummary(in))
	details := workflows.StartDetails(in)
	assert.Contains(t, details, "- Champion: Ada Lovelace <ada@acme.example> (Europe/London)")
	assert.Contains(t, details, "- Renewal: 2027-01-05")
	assert.NotContains(t, details, "Imported")
	in.Import = &workflows.Import{Day: 120, Phase: workflows.PhaseAdoption}
	assert.Contains(t, workflows.StartDetails(in), "- Imported: at day 120 (adoption)")

	// Markdown in a name is shown, not obeyed.
	in.Account.Name = "*Bold* [link](x) #1"
	assert.Equal(t, `\*Bold\* \[link\](x) \#1 · enterprise plan · CSM Grace Hopper`, workflows.StartSummary(in))

	// Temporal refuses a summary payload over 400 bytes: the longest names
	// allowed, in 4-byte runes, still fit.
	in.Account.Name = strings.Repeat("😀", workflows.MaxNameLen)
	in.CSM.Name = strings.Repeat("😀", workflows.MaxNameLen)
	s := workflows.StartSummary(in)
	require.LessOrEqual(t, utf8.RuneCountInString(s), 80)
	p, err := converter.GetDefaultDataConverter().ToPayload(s)
	require.NoError(t, err)
	assert.LessOrEqual(t, proto.Size(p), 400)
}
