"""Names and stack frames in reports, matched to candidate paths."""

from __future__ import annotations

import numpy as np

from bugsift.learn.files.mentions import MENTION_FEATURES, NameIndex, extract_mentions, mention_features
from bugsift.learn.files.tokens import split_identifier, text_tokens

PATHS = [
    "bundles/org.eclipse.swt/Eclipse SWT/win32/org/eclipse/swt/widgets/Table.java",
    "bundles/org.eclipse.swt/Eclipse SWT/gtk/org/eclipse/swt/widgets/Table.java",
    "bundles/org.eclipse.jface/src/org/eclipse/jface/viewers/TableViewer.java",
    "bundles/org.eclipse.ui/src/org/eclipse/ui/internal/WorkbenchPage.java",
    "bundles/org.eclipse.ui/src/org/eclipse/ui/internal/Display.java",
]


def test_localize_identifiers_split_at_camel_case() -> None:
    assert split_identifier("TableViewerRow_2") == ["table", "viewer", "row"]
    assert split_identifier("getHTMLParser") == ["get", "html", "parser"]
    tokens = text_tokens("NPE in TableViewer.refresh()")
    assert {"npe", "tableviewer", "table", "viewer", "refresh"} <= set(tokens)


def test_localize_stack_frames_qualified_and_plain_names() -> None:
    mentions = extract_mentions(
        "TableViewer throws NPE",
        "java.lang.NullPointerException\n"
        "  at org.eclipse.ui.internal.WorkbenchPage$3.run(WorkbenchPage.java:12)\n"
        "  at org.eclipse.swt.widgets.Table.select(Table.java:99)\n"
        "see also Display",
    )
    assert mentions.stack == ["org.eclipse.ui.internal.WorkbenchPage", "org.eclipse.swt.widgets.Table"]
    assert "java.lang.NullPointerException" in mentions.qualified
    assert mentions.summary_names == {"TableViewer": 1.0}
    assert mentions.description_names["Display"] == 0.5

    index = NameIndex(PATHS)
    candidates = np.arange(len(PATHS))
    rows = mention_features(mentions, index, candidates)
    col = {name: k for k, name in enumerate(MENTION_FEATURES)}
    assert rows[2, col["mention_summary"]] == 1.0  # TableViewer.java
    assert rows[3, col["stack_frame"]] == 1.0  # top frame, nested class folded into its file
    # Table is in frame 2 and shared by two platform folders: each gets half
    assert rows[0, col["stack_frame"]] == rows[1, col["stack_frame"]] == 0.25
    assert rows[4, col["mention_description"]] == 0.5
    # only candidates count
    rows = mention_features(mentions, index, np.array([1, 2]))
    assert rows[0, col["stack_frame"]] == 0.5
