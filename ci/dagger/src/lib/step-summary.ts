// Markdown for GitHub's job summary from the steps of a module run (endToEnd); the pipeline CLI renders its
// own report for deploys, this covers the runs made of Dagger services only.

export interface StepResult {
  name: string
  passed: boolean
  detail: string
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ')
}

export function summaryMarkdown(title: string, steps: StepResult[]): string {
  const passed = steps.length > 0 && steps.every((step) => step.passed)
  const lines = [
    `### ${cell(title)}: ${passed ? 'passed' : 'failed'}`,
    '',
    '| step | result | detail |',
    '| --- | --- | --- |',
    ...steps.map(
      (step) => `| ${cell(step.name)} | ${step.passed ? 'passed' : '**failed**'} | ${cell(step.detail)} |`,
    ),
  ]
  if (steps.length === 0) lines.push('| (none) | **failed** | nothing ran |')
  return `${lines.join('\n')}\n`
}
