// Line keys in order: "up" and "down" on a key swap it with its neighbour on the same module.
// The two keys exchange their numbers and their rows; saving the page stores both at once
// (the server parks moved keys first, so a swap never collides).
'use strict';
{
    const ROW = 'tr.form-row:not(.empty-form)';

    function field(row, name) {
        return row.querySelector(`input[name$="-${name}"], select[name$="-${name}"]`);
    }

    function neighbour(row, step) {
        let other = step < 0 ? row.previousElementSibling : row.nextElementSibling;
        while (other && !other.matches(ROW)) {
            other = step < 0 ? other.previousElementSibling : other.nextElementSibling;
        }
        if (!other || field(other, 'module').value !== field(row, 'module').value) {
            return null;
        }
        return other;
    }

    function move(row, step) {
        const other = neighbour(row, step);
        if (!other) {
            return;
        }
        const mine = field(row, 'position');
        const theirs = field(other, 'position');
        [mine.value, theirs.value] = [theirs.value, mine.value];
        if (step < 0) {
            other.before(row);
        } else {
            other.after(row);
        }
    }

    function addButtons(row) {
        const cell = field(row, 'position')?.closest('td');
        if (!cell || cell.querySelector('.key-move')) {
            return;
        }
        for (const [label, step] of [['up', -1], ['down', 1]]) {
            const button = document.createElement('button');
            button.type = 'button';
            button.className = 'key-move button';
            button.textContent = label === 'up' ? '↑' : '↓';
            button.title = `Move this key ${label}`;
            button.setAttribute('aria-label', `Move this key ${label}`);
            button.addEventListener('click', () => move(row, step));
            cell.append(button);
        }
    }

    function prepare(group) {
        group.querySelectorAll(ROW).forEach(addButtons);
    }

    document.addEventListener('DOMContentLoaded', () => {
        document.querySelectorAll('#line_keys-group, #keys-group').forEach(prepare);
    });
    document.addEventListener('formset:added', (event) => {
        if (event.detail.formsetName === 'line_keys' || event.detail.formsetName === 'keys') {
            addButtons(event.target);
        }
    });
}
