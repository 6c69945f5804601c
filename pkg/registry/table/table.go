// Package table builds the metav1.Table responses that `kubectl get` prints, from a list of
// columns and a function that renders one object's cells. It owns the Table plumbing
// (list metadata, includeObject, single objects versus lists) so each resource only says
// what its columns are.
package table

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Convertor renders objects of one resource as table rows.
type Convertor struct {
	Columns []metav1.TableColumnDefinition
	// Cells returns the cells of one object, in column order.
	Cells func(obj runtime.Object) ([]any, error)
}

var _ rest.TableConvertor = Convertor{}

// ConvertToTable implements rest.TableConvertor.
func (c Convertor) ConvertToTable(_ context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	includeObject := metav1.IncludeMetadata
	if opts, ok := tableOptions.(*metav1.TableOptions); ok && opts != nil && opts.IncludeObject != "" {
		includeObject = opts.IncludeObject
	}
	table := &metav1.Table{ColumnDefinitions: c.Columns}
	addRow := func(obj runtime.Object) error {
		cells, err := c.Cells(obj)
		if err != nil {
			return err
		}
		row := metav1.TableRow{Cells: cells}
		switch includeObject {
		case metav1.IncludeObject:
			row.Object.Object = obj
		case metav1.IncludeMetadata:
			m, err := meta.Accessor(obj)
			if err != nil {
				return err
			}
			partial := meta.AsPartialObjectMetadata(m)
			partial.GetObjectKind().SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata"))
			row.Object.Object = partial
		}
		table.Rows = append(table.Rows, row)
		return nil
	}
	if meta.IsListType(object) {
		if err := meta.EachListItem(object, addRow); err != nil {
			return nil, err
		}
		if l, err := meta.ListAccessor(object); err == nil {
			table.ResourceVersion = l.GetResourceVersion()
			table.Continue = l.GetContinue()
			table.RemainingItemCount = l.GetRemainingItemCount()
		}
	} else {
		if err := addRow(object); err != nil {
			return nil, err
		}
		if m, err := meta.Accessor(object); err == nil {
			table.ResourceVersion = m.GetResourceVersion()
		}
	}
	if len(table.Rows) == 0 {
		table.Rows = []metav1.TableRow{}
	}
	return table, nil
}

// NameColumn and AgeColumn are the first columns of most resources, as kubectl prints them.
var (
	NameColumn = metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}
	AgeColumn  = metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
)

// Age renders a creation timestamp the way kubectl does ("5m", "3d2h", "<unknown>").
func Age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// ErrNotTable is returned for objects a convertor does not know.
func ErrNotTable(obj runtime.Object) error {
	return apierrors.NewInternalError(fmt.Errorf("cannot render %T as a table", obj))
}
