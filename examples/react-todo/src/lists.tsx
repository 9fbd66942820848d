import { useQuery } from "@trellis/react";
import { useEffect } from "react";
import { client } from "./client.js";
import { userName } from "./config.js";
import { TextForm } from "./text-form.js";

const lists = client.database.lists;

/**
 * The lists shared with this user, and the chosen one's members. The server sends a user only the
 * lists whose `memberIds` hold them (rules.json), with their todos: adding someone to a list
 * shows it to them at once, removing them takes it, and its todos, off their screen and storage.
 */
export function Lists({
  selected,
  onSelect,
}: {
  selected: string | undefined;
  onSelect: (listId: string | undefined) => void;
}) {
  const { data, loading } = useQuery(lists, {
    fields: { id: true, name: true, memberIds: true, createdBy: true },
    orderBy: ["createdAt", "asc"],
  });
  const mine = data ?? [];
  const current = mine.find((list) => list.id === selected);
  // Keep a list chosen: the first one, and another when the chosen one is gone (unshared).
  const firstId = mine[0]?.id;
  useEffect(() => {
    if (!loading && current === undefined) onSelect(firstId);
  }, [loading, current, firstId, onSelect]);

  return (
    <section aria-label="Lists">
      <nav aria-label="Your lists" style={{ display: "flex", gap: "0.5rem", flexWrap: "wrap", alignItems: "center" }}>
        {mine.map((list) => (
          <button
            key={list.id}
            type="button"
            data-testid={`list-${list.name}`}
            aria-pressed={list.id === current?.id}
            onClick={() => onSelect(list.id)}
          >
            {list.name}
          </button>
        ))}
        {!loading && mine.length === 0 && (
          <span data-testid="no-lists">No lists yet: make one, or ask someone to share theirs.</span>
        )}
        <TextForm
          label="New list"
          testId="new-list"
          placeholder="Groceries"
          onSubmit={(name) =>
            void lists.create({ name, memberIds: [userName] }).then(({ data: list }) => onSelect(list?.id))
          }
        />
      </nav>
      {current !== undefined && (
        <div
          data-testid="members"
          style={{ display: "flex", gap: "0.5rem", flexWrap: "wrap", alignItems: "center", margin: "0.5rem 0" }}
        >
          Shared with:{" "}
          {current.memberIds.map((member) => (
            <span key={member} data-testid={`member-${member}`} style={{ marginRight: "0.5rem" }}>
              {member}
              {member !== userName && (
                <button
                  type="button"
                  aria-label={`Remove ${member}`}
                  onClick={() =>
                    void lists.update({
                      id: current.id,
                      fields: { memberIds: current.memberIds.filter((id) => id !== member) },
                    })
                  }
                >
                  ×
                </button>
              )}
            </span>
          ))}
          <TextForm
            label="Share with"
            testId="share-with"
            placeholder="bob"
            onSubmit={(member) =>
              void lists.update({ id: current.id, fields: { memberIds: [...new Set([...current.memberIds, member])] } })
            }
          />
        </div>
      )}
    </section>
  );
}
