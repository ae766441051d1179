// A code block (ui/code.py): the server's coloured, escaped HTML, and a button that copies the plain text.
export default function (component) {
  const { data, parentElement } = component;
  let block = parentElement.querySelector(".code");
  if (!block) {
    block = document.createElement("div");
    block.className = "code";
    block.innerHTML = '<pre><code></code></pre><button type="button" class="copy" title="Copy to clipboard">Copy</button>';
    parentElement.append(block);
    block.querySelector(".copy").addEventListener("click", () => copy(block));
  }
  block.__text = data.text;
  block.classList.toggle("wrap", Boolean(data.wrap));
  block.querySelector("code").innerHTML = data.html;     // built by the server from escaped text only
}

async function copy(block) {
  const button = block.querySelector(".copy");
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(block.__text);
    } else {                                         // plain http on a class's network: no clipboard API
      const area = document.createElement("textarea");
      area.value = block.__text;
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.append(area);
      area.select();
      const copied = document.execCommand("copy");
      area.remove();
      if (!copied) throw new Error("not copied");
    }
    button.textContent = "Copied";
  } catch (err) {
    button.textContent = "Select and copy";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}
