import { type FormEvent, useState } from "react";

/**
 * A one-line form: a labelled input (its test id `testId`) and, when `button` is given, a submit
 * button (`add-…` for `new-…`). Blank input is ignored; the input clears after each submit.
 */
export function TextForm(props: {
  label: string;
  testId: string;
  placeholder: string;
  button?: string;
  onSubmit: (value: string) => void;
}) {
  const { label, testId, placeholder, button, onSubmit } = props;
  const [value, setValue] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (value.trim() === "") return;
    onSubmit(value.trim());
    setValue("");
  };
  return (
    <form onSubmit={submit} style={{ display: "inline-flex", gap: "0.5rem", alignItems: "center" }}>
      <label htmlFor={testId}>{label}</label>
      <input
        id={testId}
        data-testid={testId}
        value={value}
        onChange={(event) => setValue(event.target.value)}
        placeholder={placeholder}
      />
      {button !== undefined && (
        <button type="submit" data-testid={testId.replace(/^new-/, "add-")}>
          {button}
        </button>
      )}
    </form>
  );
}
