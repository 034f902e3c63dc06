package session

import (
	"strconv"
	"strings"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/schema"
)

// draft is an event after normalisation, ready to be numbered.
type draft struct {
	typ       schema.EventType
	data      schema.Payload
	synthetic bool
	raw       []byte
}

// itemState tracks what the engine has seen of items, to give them ids and
// to add the synthetic starts and deltas that clients rely on.
type itemState struct {
	byNative map[string]string
	next     int
	started  map[string]bool
	deltas   map[string]bool
}

func newItemState() *itemState {
	return &itemState{byNative: map[string]string{}, started: map[string]bool{}, deltas: map[string]bool{}}
}

func (st *itemState) idFor(native *string) string {
	if native != nil && *native != "" {
		if id, ok := st.byNative[*native]; ok {
			return id
		}
	}
	st.next++
	id := "itm_" + strconv.Itoa(st.next)
	if native != nil && *native != "" {
		st.byNative[*native] = id
	}
	return id
}

// normalize turns one adapter event into the drafts to record (none when it
// is a duplicate). It follows the reference's normalisation steps: item ids,
// synthetic starts, synthetic deltas, de-duplication.
func (s *Session) normalize(ev adapters.Event) []draft {
	d := draft{typ: ev.Type, data: ev.Data, synthetic: ev.Synthetic, raw: ev.Raw}
	switch data := deref(ev.Data).(type) {
	case schema.SessionStartedData:
		if s.lastSeq > 0 {
			return nil // the daemon's own session.started came first
		}
	case schema.SessionEndedData:
		if !ev.Synthetic && s.agentInfo.Resumable {
			return nil
		}
	case schema.TurnEventData:
		if ev.Type == schema.EventTurnEnded {
			d.data = s.turnUsage(data)
		}
	case schema.ItemEventData:
		return s.normalizeItem(d, data)
	case schema.ItemDeltaData:
		if data.ItemID == "" {
			data.ItemID = s.items.idFor(data.NativeItemID)
		}
		s.items.deltas[data.ItemID] = true
		d.data = data
	}
	return []draft{d}
}

func (s *Session) normalizeItem(d draft, data schema.ItemEventData) []draft {
	st := s.items
	item := data.Item
	if item.ItemID == "" {
		item.ItemID = st.idFor(item.NativeItemID)
	}
	if item.ParentID != nil && !strings.HasPrefix(*item.ParentID, "itm_") {
		item.ParentID = schema.Ptr(st.idFor(item.ParentID))
	}
	if item.Content == nil {
		item.Content = []schema.ContentPart{}
	}
	d.data = schema.ItemEventData{Item: item}
	if d.typ == schema.EventItemStarted {
		if st.started[item.ItemID] {
			return nil
		}
		st.started[item.ItemID] = true
		return []draft{d}
	}
	var out []draft
	if !st.started[item.ItemID] {
		st.started[item.ItemID] = true
		start := item
		start.Status = schema.StatusInProgress
		out = append(out, draft{typ: schema.EventItemStarted, data: schema.ItemEventData{Item: start}, synthetic: true})
	}
	if delta, ok := syntheticDelta(item, st.deltas[item.ItemID]); ok {
		st.deltas[item.ItemID] = true
		out = append(out, draft{typ: schema.EventItemDelta, data: delta, synthetic: true})
	}
	return append(out, d)
}

// syntheticDelta gives a completed assistant message that streamed nothing
// one delta with its whole text, so live views can render every message the
// same way.
func syntheticDelta(item schema.UniversalItem, hadDelta bool) (schema.ItemDeltaData, bool) {
	if hadDelta || item.Kind != schema.KindMessage || (item.Role != nil && *item.Role == schema.RoleUser) {
		return schema.ItemDeltaData{}, false
	}
	var texts []string
	for _, p := range item.Content {
		if p.Type == schema.PartText {
			texts = append(texts, p.Text)
		}
	}
	if len(texts) == 0 {
		return schema.ItemDeltaData{}, false
	}
	return schema.ItemDeltaData{ItemID: item.ItemID, NativeItemID: item.NativeItemID, Delta: strings.Join(texts, "\n")}, true
}

// deref turns a payload pointer into its value so one switch handles both.
func deref(p schema.Payload) schema.Payload {
	switch v := p.(type) {
	case *schema.SessionStartedData:
		return *v
	case *schema.SessionEndedData:
		return *v
	case *schema.TurnEventData:
		return *v
	case *schema.ItemEventData:
		return *v
	case *schema.ItemDeltaData:
		return *v
	case *schema.ErrorData:
		return *v
	case *schema.PermissionEventData:
		return *v
	case *schema.QuestionEventData:
		return *v
	case *schema.AgentUnparsedData:
		return *v
	}
	return p
}
