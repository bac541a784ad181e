"""Flask-WTF forms: every one carries a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class ReportForm(FlaskForm):
    title = StringField("Title", validators=[Optional(), Length(max=1000)])
    description = TextAreaField("What happened?", validators=[Optional(), Length(max=200_000)])
    product = StringField("Product (optional)", validators=[Optional(), Length(max=200)])
    version = StringField("Version (optional)", validators=[Optional(), Length(max=200)])
    steps = TextAreaField("Steps to reproduce (optional)", validators=[Optional(), Length(max=50_000)])
    preview = SubmitField("Show suggestions")
    submit = SubmitField("Submit report")

    def validate(self, extra_validators: object = None) -> bool:  # type: ignore[override]
        ok = super().validate(extra_validators)  # type: ignore[arg-type]
        if ok and not (self.title.data or "").strip() and not (self.description.data or "").strip():
            self.title.errors = [*self.title.errors, "Give a title or a description."]
            return False
        return ok


class LoginForm(FlaskForm):
    username = StringField("User", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField("Log in")


class LabelForm(FlaskForm):
    """Accept a suggestion (value = the model's) or correct it (value typed or picked by the triager)."""

    name = HiddenField(validators=[DataRequired(), Length(max=100)])
    value = StringField("Value", validators=[DataRequired(), Length(max=200)])
    action = HiddenField(validators=[DataRequired()])


class PlainForm(FlaskForm):
    """A form with nothing but its CSRF token (logout)."""


class JobForm(FlaskForm):
    """An admin queues a train or classify job for a model task from the dashboard."""

    job = SelectField("Job", choices=["train", "classify"])
    task = SelectField("Task", choices=[])  # the model tasks, filled in by the view
    label = StringField("Label set (optional)", validators=[Optional(), Length(max=100)])
    submit = SubmitField("Queue")


class TriageFilterForm(FlaskForm):
    """The triage queue's filters (GET query parameters; nothing is changed, so no CSRF token)."""

    class Meta:
        csrf = False

    state = HiddenField(default="pending")
    tracker = SelectField("Tracker", choices=[], validate_choice=False)  # filled in by the view
    product = StringField("Product", validators=[Optional(), Length(max=200)])
    label = SelectField("Label", choices=[], validate_choice=False)  # filled in by the view
    value = StringField("Predicted value", validators=[Optional(), Length(max=200)])
    unsure = BooleanField("Not sure only")
    q = StringField("Title contains", validators=[Optional(), Length(max=200)])
    sort = SelectField("Sort", choices=["newest", "oldest", "unsure", "confident"], validate_choice=False)
    page = IntegerField("Page", default=1, validators=[Optional(), NumberRange(min=1, max=10_000)])
